"""Instance types a node can run: known to EC2, built for the image's CPU, big enough for Trino.

The coordinators' type used to be refused only by the AWS request check, in a 16.8 KB line that
listed every type and named `ec2.CreateLaunchTemplate`, and the workers' types (the
mixed-instances overrides) not at all: `pulumi up` failed half-way. Here each is checked against
the InstanceType enum of botocore's EC2 model (the list EC2's API accepts), with the nearest names;
the image `make image` builds is x86_64 (image/trino.pkr.hcl), so Graviton types are refused
unless the stack names its own AMI; and
a type with less memory than the node agent's renderer needs (node_agent/render.heap_bytes:
512 MiB of heap plus the OS and agent reserve, about 1.6 GiB) is refused by its size name, since
botocore carries no memory sizes: `nano` (0.5 GiB) and `micro` (1 GiB) in every family.
"""

from __future__ import annotations

import difflib
import re
from functools import cache

import botocore.session

# Graviton (arm64): the processor letter g after the generation (m6g, c7gn, r8gd, t4g, x2gd,
# im4gn, is4gen, hpc7g, g5g) and the first Graviton family, a1.
ARM64 = re.compile(r"^(a1|[a-z]+\d+[a-z]*g[a-z]*)\.")
TOO_SMALL = {"nano": "0.5 GiB", "micro": "1 GiB"}


@cache
def known_types() -> frozenset[str]:
    """Every type EC2's API accepts, as botocore's service model lists them."""
    model = botocore.session.get_session().get_service_model("ec2")
    return frozenset(model.shape_for("InstanceType").enum)


def instance_type_problem(instance_type: str, own_image: bool = False) -> str | None:
    """Why a node of this type would not boot Trino, or None.

    `own_image`: the stack names its AMI (amiId), whose architecture the plan cannot read
    offline, so a Graviton type is left to the user.
    """
    types = known_types()
    if instance_type not in types:
        family = instance_type.split(".", 1)[0]
        near = difflib.get_close_matches(instance_type, sorted(types), n=3, cutoff=0.6)
        same_family = sorted(t for t in types if t.startswith(family + "."))
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        sizes = f"; {family} comes in {', '.join(same_family)}" if same_family and not near else ""
        return (
            f"is not an EC2 instance type{hint}{sizes} (botocore {botocore.__version__} knows "
            f"{len(types)} types; see https://aws.amazon.com/ec2/instance-types/)"
        )
    if ARM64.match(instance_type) and not own_image:
        return (
            "is a Graviton (arm64) type, and the image make image builds is x86_64 "
            "(set amiId to an arm64 image of your own to use it)"
        )
    size = instance_type.split(".", 1)[1]
    if size in TOO_SMALL:
        return f"has {TOO_SMALL[size]} of memory; a Trino node needs at least about 1.6 GiB"
    return None
