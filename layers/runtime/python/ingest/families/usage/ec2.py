"""EC2 usage events: compute usage, in event types we define (the EC2 API's methods don't describe it).

Three events, discriminated on `action` like the S3 ones, with the same common fields (`timestamp`,
`customerId`, `featureId`, `clientType`, `clientId`):

* `InstanceStarted`: an instance began running (what it is and where).
* `InstanceStopped`: it stopped running, or was terminated.
* `InstanceUsage`: an interval of running time, with everything needed to price it: instance type,
  region, vCPUs, memory and duration. The interval starts at `timestamp`.

Started/stopped mark the lifecycle; usage intervals are what gets counted. An SDK that only knows
start and stop can derive intervals; one that samples periodically sends `InstanceUsage` only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool

from ingest.families.usage.family import Text, UsageEvent, event_union, integer

PositiveInteger = integer(minimum=1)
PurchaseOption = Literal["on-demand", "spot", "reserved", "savings-plan", "dedicated"]
# A number, stored as a float so that 3600 and 3600.0 are the same canonical event (one dedup key).
Seconds = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class Ec2Event(UsageEvent):
    provider: Literal["aws"] = Field(description="The cloud provider (EC2 is AWS's).")
    instance_id: Text = Field(description="The instance, e.g. `i-0abcd1234efgh5678`.", examples=["i-0abcd1234efgh5678"])
    region: Text = Field(description="The instance's region, e.g. `us-east-1`.", examples=["us-east-1"])
    availability_zone: Text | None = Field(default=None, description="Optional. e.g. `us-east-1a`.")


class Ec2InstanceStarted(Ec2Event):
    """An instance began running (launched, started, or resumed from hibernation)."""

    action: Literal["InstanceStarted"]
    instance_type: Text = Field(description="The instance type, e.g. `m7g.large`.", examples=["m7g.large"])
    vcpus: PositiveInteger | None = Field(default=None, description="Optional. vCPUs of the instance type.")
    memory_mib: PositiveInteger | None = Field(
        default=None, description="Optional. Memory of the instance type, in MiB."
    )
    purchase_option: PurchaseOption | None = Field(default=None, description="Optional. How the capacity is paid for.")
    platform: Text | None = Field(default=None, description="Optional. Operating system, e.g. `linux`, `windows`.")


class Ec2InstanceStopped(Ec2Event):
    """An instance stopped running (stopped, hibernated or terminated)."""

    action: Literal["InstanceStopped"]
    instance_type: Text | None = Field(default=None, description="Optional. The instance type.")
    terminated: StrictBool | None = Field(
        default=None, description="Optional. True when the instance was terminated, not just stopped."
    )


class Ec2InstanceUsage(Ec2Event):
    """An interval of running time: the unit usage is counted in. The interval starts at `timestamp`."""

    action: Literal["InstanceUsage"]
    instance_type: Text = Field(description="The instance type, e.g. `m7g.large`.", examples=["m7g.large"])
    vcpus: PositiveInteger = Field(description="vCPUs of the instance during the interval.", examples=[2])
    memory_mib: PositiveInteger = Field(
        description="Memory of the instance during the interval, in MiB.", examples=[8192]
    )
    duration_seconds: Seconds = Field(description="Length of the interval, in seconds (> 0).", examples=[3600])
    purchase_option: PurchaseOption | None = Field(default=None, description="Optional. How the capacity is paid for.")
    platform: Text | None = Field(default=None, description="Optional. Operating system, e.g. `linux`, `windows`.")


Ec2EventUnion = event_union(Ec2InstanceStarted, Ec2InstanceStopped, Ec2InstanceUsage)

