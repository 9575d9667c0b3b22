"""Documents on the disc besides images (Qt-free): presentation states, Structured Reports, key object selections,
encapsulated PDF and CDA, waveforms (issue #16)."""
