"""The cluster spec: typed models, loading and validation."""

from hapair.spec.issues import Finding, SpecError
from hapair.spec.load import Loaded, load_spec, parse_spec
from hapair.spec.models import ClusterSpec, Node

__all__ = ["ClusterSpec", "Finding", "Loaded", "Node", "SpecError", "load_spec", "parse_spec"]
