"""The Apprentice plug-in for GIMP 3: the magic brush, Continue painting and Copy layer as a
painting, each painted with GIMP's own procedures as one undo group.

GIMP-free, tested outside GIMP: plan (an op as GIMP calls), session (the image's session with
the daemon), settings. With GIMP: painting (carries out plans, reads pixels), tools (the runs)."""
