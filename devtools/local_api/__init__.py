"""The local API server behind `make serve`: API Gateway (REST) + Lambda + DynamoDB/KMS, no Docker.

    .venv/bin/python -m devtools.local_api --port 3000 --workers 4

Everything comes from template.yaml through devtools.template: the routes, each function's
handler, memory and timeout, the functions' environment, the tables and keys. The modules:

* config: what the server reads from its environment and the template (ConfigError, Settings);
* storage: an embedded moto server on a free loopback port that lets one AWS call through at a
  time (moto is not thread-safe), or the endpoint in AWS_ENDPOINT_URL when that is set;
* workers: N spawned processes, each like one Lambda container (the functions' code and the
  layers on sys.path, the functions' environment, handlers imported on first use) that handle
  one event at a time; concurrent requests go to different workers, so they really race;
* events: the API Gateway REST proxy event of a request (devtools.apigw's, shared with the
  in-process test client) and the HTTP response API Gateway makes of a handler's result;
* gateway: routing, invoking and API Gateway's own answers (404, 413, 502, 504) behind a threaded
  HTTP/1.1 front whose HTTP (keep-alive, chunked bodies, 100-continue) is h11's;
* stack: LocalApi, all of it started and stopped together; cli: the command line.

Tests start the same stack in the background: ``with LocalApi(workers=2) as api: api.base_url``.
"""

from devtools.local_api.config import ConfigError
from devtools.local_api.stack import LocalApi, start_local_api

__all__ = ["ConfigError", "LocalApi", "start_local_api"]
