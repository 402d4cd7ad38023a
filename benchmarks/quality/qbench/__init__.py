"""The quality suite: real tasks, run side by side through opto and trace-opt.

``generators``: task data with exact ground truth (from registry packages or seeded
generators); ``programs``: one training program per task family, written against the API
both implementations share; ``adapters``: what differs between them; ``loop``: the common
step loop and its records; ``specs``: which task instances a run contains; ``proxy``: the
recording and replaying endpoint for trace-opt; ``report``: table and plots.
"""
