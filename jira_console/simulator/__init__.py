"""A built-in Jira simulator (Cloud and Server/DC flavors) for tests, the demo and benchmarks.

::

    from jira_console.simulator import Simulator, SimConfig, FIELD_IDS

    with Simulator(SimConfig(flavor="cloud", issues=200)).serve() as sim:
        httpx.get(sim.url + "/rest/api/3/myself", auth=sim.credentials["basic"])

It serves real HTTP on loopback (uvicorn in a background thread), keeps a canonical state per issue and
renders it per flavor and API version, injects faults at runtime, counts rule-breaking client requests
(``sim.violations``) and delivers signed webhooks. Never imports Textual.
"""

from jira_console.simulator.faults import FaultSettings
from jira_console.simulator.model import FIELD_IDS, SimConfig
from jira_console.simulator.server import Simulator
from jira_console.simulator.webhooks import sign

__all__ = ["FIELD_IDS", "FaultSettings", "SimConfig", "Simulator", "sign"]
