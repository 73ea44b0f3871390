from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
def test_probe(stub):
    r = stub.CreateExperiment(pb.CreateExperimentRequest(name="x"))
    print(r)
