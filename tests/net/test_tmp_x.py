import pytest
from viewer.core.net.nodes import Node
from viewer.core.net.scu import echo, AssociationLog
from viewer.core.io import ViewerError
pytestmark = pytest.mark.net
@pytest.mark.parametrize("n", ["orthanc", "dcmqrscp"])
def test_x(request, n, local_ae):
    srv = request.getfixturevalue(n)
    out = {}
    for i in range(100):
        try:
            echo(Node("w", "NOT-THE-PACS", "127.0.0.1", srv.port), local_ae)
        except ViewerError as e:
            k = str(e).split(":",2)[-1][:60]
            out[k] = out.get(k, 0) + 1
    print(n, out)
