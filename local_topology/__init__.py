"""A stage's shape on one machine: a local topology built from the artifacts that go to AWS.

``python -m local_topology up [--stage NAME] [--hosts N]|down|status`` (``make local
[STAGE=...] [HOSTS=...]``, ``make local-down``, ``make local-status``) runs, under a state
folder (default ``./var/local``):

* the stage's app hosts (``stacks/config.py``: ``min_instances`` of them, ``--hosts``
  overrides the count; default the scale-out stage's 3), each labelled with an AZ of the
  stage, round-robin as its Auto Scaling group spreads them, each in a Linux network
  namespace of its own with a veth pair on a bridge ``lt-br<k>`` (10.77.<k>.1/24, k the
  first free slot; host *i* is 10.77.<k>.(10+i)), brought up by ``host/bootstrap.sh
  --mode local --netns ...``: the script EC2 user data runs, installing the service bundle
  from the wheelhouse with no package index (``namespaces.py``, ``hosts.py``,
  ``artifacts.py``). Where namespaces cannot be created, the hosts run as
  processes on separate ports of 127.0.0.1 (said in one line);
* HAProxy (Debian's) as the load balancer, active health checks on ``/api/health/live``,
  its config generated here (``haproxy.py``), an admin stats socket for status and drains;
* PostgreSQL: a cluster initdb'd under the state folder (TLS, password auth), so chaos can
  restart it without touching a system service (``postgres.py``; the tests' own clusters
  are made by it too);
* moto's server standing in for S3 (media and static buckets) and Secrets Manager (the
  database secrets shaped like RDS's, the app secret; ``emulator.py``);
* one front door (nginx) that routes like the CloudFront distribution (``frontdoor.py``;
  a test checks the routes against the synthesized distribution).

``topology.py`` starts and stops them in order; ``processes.py`` holds what they share
(running commands, free ports, waiting). Of the game service only its contract is imported
(``game_service/contract.py``), of the hosts' side ``host/bundle.py`` and the wheelhouse, of
the stacks the stages' data (``stacks/config.py``). Nothing here imports the CDK.
"""
