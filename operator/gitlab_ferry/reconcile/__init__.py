"""The reconcile layer: pure planners that turn (spec, recorded status, observation, now)
into the one next Plan, and recorders that turn a plan and its outcome into the next status.
No I/O, no clocks: time is an argument."""
