"""How long a test waits for something that must happen (a process to start, answer, or
exit; a write to reach the sandbox). A bound on a wait, not a timing assertion: on a machine
busy with other work a step that takes a second can take minutes, and a test that failed
then would say nothing about bmmsync. Speed is measured in bench/, not here."""

PATIENCE = 300.0
