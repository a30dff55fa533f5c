"""Where verdicts go: the JUnit file and the terminal (the sign-off report comes later)."""
