"""Projects: `trackway run` and `trackway.projects.run`, MLflow's MLproject format.

```python
import trackway.projects

submitted = trackway.projects.run("examples/sklearn-demo", parameters={"max_depth": 5})
print(submitted.run_id, submitted.get_status())
```
"""

from trackway.projects.runner import prepare, run, start
from trackway.projects.submitted import ExecutionError, SubmittedRun

__all__ = ["ExecutionError", "SubmittedRun", "prepare", "run", "start"]
