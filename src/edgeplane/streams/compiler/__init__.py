"""Turns a parsed rule into Python source, compiled once: nothing is interpreted per message."""
