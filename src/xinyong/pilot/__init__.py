"""The platform put to use on synthetic data, as a pilot (试点) puts it to use on a city: the
demo (a store with a year of history, users, served) and the study (every preset on a
population at several dates). Applications of the platform; the simulator (``sim``) only
makes the populations."""
