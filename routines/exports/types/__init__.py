"""The export types' `run` functions, one module per subject; registered in `routines.exports.registry`."""
