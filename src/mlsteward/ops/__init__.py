"""Operations: ``mlsteward doctor``'s checks of a setup.

Each check answers in plain words whether one part of the setup works, and
when it does not, what to do. The checks read the stores the way the other
capabilities do (through their services), and change nothing but a probe
object in the artifact store that they remove again.
"""

from mlsteward.ops.models import Finding, worst

__all__ = ["Finding", "worst"]
