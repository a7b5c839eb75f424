"""
The ``hvsock`` command-line tool: ``cat``, ``forward``, ``stress``, ``doctor``.
"""
