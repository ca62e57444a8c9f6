"""Fencing through the standard fence agents (Debian's fence-agents): hapair
calls them by their documented interface and never speaks IPMI or Redfish
itself."""
