"""Scheduling and operations: triggers, working hours, the leader, nodes, metrics.

The modules import nothing from here on purpose: the worker loop imports the
calendar and the node registry, and the service imports the worker, so a
package-level re-export would tie them into an import cycle.
"""
