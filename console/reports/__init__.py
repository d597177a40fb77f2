"""Reports over the desk's stored history: the SLA report (sla.py), its renderings (render.py) and the
weekly digest mailed to the supervisors (digest.py)."""
