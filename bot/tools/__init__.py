"""Tools around the runtime, not part of it: the command line, the terminal simulators (USSD and SMS),
transcripts, the screen linter and the demo seed."""
