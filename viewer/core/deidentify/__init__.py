"""De-identification (PS3.15 Annex E): copies of datasets with what identifies the patient removed or replaced."""
