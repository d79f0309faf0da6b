"""The controller layer: one reconcile loop per object (validate, observe, plan, apply,
record) on top of the effects and the pure planners. It knows nothing of kopf: the handlers
module adapts kopf's daemons, stop flags and event posting to the protocols defined here."""
