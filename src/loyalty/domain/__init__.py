"""Pure business rules: no I/O, no framework, no clock. Time is passed in."""
