"""What a run works on: the person and household tables, random streams, event log, clock."""
