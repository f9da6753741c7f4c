"""RQ job functions and the worker that runs them; jobs take ids and are safe to run twice."""
