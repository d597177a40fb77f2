"""The console's one Textual theme. Every colour on screen comes from here, through CSS variables
(app.tcss) or `$variable` styles in Content; nothing else names a colour.

Class colours follow the policy's urgency (III red, II amber, I blue). Time left has its own
urgency colours (warning, breached), and the cursor a hue that no class uses.
"""
from __future__ import annotations

from textual.theme import Theme

THEME = Theme(
    name="support-console",
    primary="steelblue",
    secondary="slateblue",
    accent="mediumturquoise",
    warning="gold",
    error="crimson",
    success="mediumseagreen",
    foreground="gainsboro",
    dark=True,
    variables={
        "class-iii": "crimson",
        "class-ii": "darkorange",
        "class-i": "royalblue",
        "urgency-warn": "gold",
        "urgency-breached": "red",
        "row-cursor": "teal",
        "block-cursor-background": "teal",
        "block-cursor-foreground": "white",
        "footer-key-foreground": "mediumturquoise",
    },
)
