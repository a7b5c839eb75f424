"""
What the tests share: fakes of systems no machine here runs (``fake_*``),
the conformance mixins both engines pass, and small helpers, one module each.
"""
