"""Due process (正当程序): notices, objections, rectification, credit repair, human review of
significant measures, and the time-driven `tick`. Works on the ledger; the engine takes the
resulting state (open objections, confirmations) as a pure input."""
