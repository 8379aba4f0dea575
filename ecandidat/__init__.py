"""eCandidat shared kit: the contracts every service speaks and the runtime they run on."""
