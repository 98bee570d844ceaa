-- Issue 12: the log of failed calls is bounded per extension (newest kept) and by age; these
-- indexes make each insert's pruning cheap.
CREATE INDEX action_errors_by_extension ON action_errors (extension, id);
CREATE INDEX action_errors_by_age ON action_errors (at);
