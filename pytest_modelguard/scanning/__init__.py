"""The artifact scanner behind ``@security(safe_load=True)``: what loading a file would import
and call, read from its bytes without ever loading it.

- :mod:`.policy` decides which ``module.name`` may be imported, stored or called;
- :mod:`.opcodes` reads pickle streams the way ``_pickle``'s unpickler does;
- :mod:`.containers` finds every payload a common loader could unpickle in a file,
  directory or archive, by content;
- :mod:`.tensorflow` reads the ops of a SavedModel graph.
"""
