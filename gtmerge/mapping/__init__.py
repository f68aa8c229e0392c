"""Declarative YAML + JMESPath mappings: any label export onto gtmerge's canonical model.

See docs/mappings.md for the file format. The Python API::

    from gtmerge.mapping import load_mapping, builtin_mappings
    from gtmerge.readers.mapped import MappedReader
"""

from gtmerge.mapping.config import Mapping, MappingError, builtin_mappings, load_mapping

__all__ = ["Mapping", "MappingError", "builtin_mappings", "load_mapping"]
