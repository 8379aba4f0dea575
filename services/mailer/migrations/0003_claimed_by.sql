-- Which sender holds a delivery being sent (the service instance), so that a sender renews only
-- its own leases and an operator sees who held a mail when its sender died.
ALTER TABLE deliveries ADD COLUMN claimed_by text;
