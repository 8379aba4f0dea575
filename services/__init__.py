"""The services of the platform; none imports another."""
