"""The command line: one module per command (commands/), the parser and dispatch (main), one writer of human output (text_output)."""
