"""What the tests and the bench share: the in-process client (``client``), the GitLab world built
through the API (``world``), the AWS round-trip counter (``counter``, with DynamoDB capacity from
item sizes in ``capacity`` and ``consumed``) and the per-container cache reset (``container``)."""
