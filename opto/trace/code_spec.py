"""What a code parameter is: the source of one function, and how that source may run.

A trainable bundle's ``__code`` ParameterNode carries a ``CodeSpec``. Optimizers read it to
know a parameter holds code (rather than guessing from its name), which function the code
must define, and which execution policy the code they write will run under.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

from opto.runtime import ExecutionPolicy
from opto.utils.source_analysis import first_function, parse


@dataclass
class CodeSpec:
    """The typed description of a code parameter.

    Attributes:
        function_name: the name of the function the code defines (and must keep defining).
        signature: the function's signature as decorated, or None when the code was given
            without a function (a parameter named ``__code...`` made by hand, as in Trace).
        policy: the execution policy the code runs under; None until one is chosen by
            ``bundle(policy=...)`` or an optimizer's ``policy=``, and then the one of the
            enclosing ``use_policy()`` block or the process default applies.
    """

    function_name: str
    signature: inspect.Signature | None = None
    policy: ExecutionPolicy | None = None

    @classmethod
    def from_source(cls, code: Any) -> CodeSpec:
        """The description of a code string alone (its first function's name, if any)."""
        name = ""
        if isinstance(code, str):
            try:
                function = first_function(parse(code))
            except SyntaxError:
                function = None
            name = function.name if function is not None else ""
        return cls(name)

    def adopt_policy(self, policy: ExecutionPolicy) -> bool:
        """Run under ``policy`` unless a policy was chosen already; whether it was adopted.

        Args:
            policy: the policy an optimizer wants the code it writes to run under.
        """
        if self.policy is not None:
            return False
        self.policy = policy
        return True

    def copy(self) -> CodeSpec:
        """A separate description with the same fields (a bundle copy's own parameter)."""
        return dataclasses.replace(self)
