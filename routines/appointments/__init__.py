"""Appointments (legacy "agendamentos" of a clinic-style application): past appointments are closed into one
attendance record each, by a set-based SQL routine shared by the schedule, the on-save sensor and the CLI."""
