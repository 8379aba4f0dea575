-- How a commission receives its alerts (0014): one mail per change (`immediate`, as before), or a
-- daily summary of the day's changes (`quotidienne`): at a deadline a busy commission's changes
-- come by the hundred.
ALTER TABLE commissions
    ADD COLUMN alertes_frequence text NOT NULL DEFAULT 'immediate'
        CHECK (alertes_frequence IN ('immediate', 'quotidienne'));
