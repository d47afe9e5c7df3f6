using System.Text.Json.Nodes;
using Grid.Nodes;
using Grid.Reservations;
using Grid.Storage;

namespace Grid.Grains.Tests;

/// <summary>
/// Grain state documents across releases, read by the serializer the silos store them with: a document an older
/// release wrote (without the newest fields) reads with their defaults, and one a newer release wrote (with fields
/// this build does not know) reads with those ignored, so silos of two releases share the same rows.
/// </summary>
public sealed class StoredStateCompatibilityTests
{
    private readonly GridJsonGrainStorageSerializer _serializer = new();

    [Fact]
    public void ANodeDocumentWithoutTheNewestFieldsReadsWithTheirDefaults()
    {
        var written = Document(Node());
        foreach (var newer in new[] { "agentVersion", "trafficApplied", "address", "features", "incarnation" })
        {
            Assert.True(written.Remove(newer), $"the document holds {newer}");
        }

        var read = Read<NodeState>(written);

        Assert.Null(read.AgentVersion);
        Assert.Null(read.Address);
        Assert.Empty(read.Features);
        Assert.Equal((0L, 0L), (read.TrafficApplied, read.Incarnation));
        Assert.Equal(NodeStatus.Up, read.Status);
        Assert.Equal(16, read.Registration!.Resources.Cru);
    }

    [Fact]
    public void ANodeDocumentWithFieldsOfALaterReleaseReadsWithThemIgnored()
    {
        var written = Document(Node());
        written["heldGpus"] = new JsonArray(1, 2);
        written["registration"]!["rack"] = "r7";
        written["registration"]!["resources"]!["gpu"] = 2;

        var read = Read<NodeState>(written);

        Assert.Equal("0.3.0-test", read.AgentVersion);
        Assert.Equal("10.0.0.7", read.Address);
        Assert.Equal(16, read.Registration!.Resources.Cru);
        Assert.Equal("BE", read.Registration.Location.Country);
    }

    [Fact]
    public void AReservationDocumentOfAnOlderAndOfANewerReleaseBothRead()
    {
        var older = Document(Reservation());
        older.Remove("meter");
        older.Remove("retries");
        older["request"]!["constraints"]!.AsObject().Remove("features");

        var readOlder = Read<ReservationRecord>(older);

        Assert.Equal(0, readOlder.Retries);
        Assert.NotNull(readOlder.Meter);
        Assert.Empty(readOlder.Request!.Constraints.Features);
        Assert.Equal((ReservationState.Active, 3L, 2L), (readOlder.State, readOlder.NodeId!.Value, readOlder.Epoch));

        var newer = Document(Reservation());
        newer["priority"] = 20;
        newer["request"]!["spot"] = true;

        var readNewer = Read<ReservationRecord>(newer);

        Assert.Equal((ReservationState.Active, 3L, 4), (readNewer.State, readNewer.NodeId!.Value, readNewer.Retries));
        Assert.Equal(["container"], readNewer.Request!.Constraints.Features.ToArray());
    }

    private static NodeState Node() => new()
    {
        Registration = new NodeRegistration(7, 8, new Capacity(16, 64L << 30, 1L << 40, 0), new Location("BE", "Ghent"), NodeCertification.Diy, "hash"),
        Status = NodeStatus.Up,
        Features = ["container", "process"],
        Address = "10.0.0.7",
        TrafficApplied = 12,
        AgentVersion = "0.3.0-test",
        Incarnation = 5,
    };

    private static ReservationRecord Reservation() => new()
    {
        Request = new ReservationRequest(9, new Capacity(1, 1L << 30, 0, 0), PlacementConstraints.None with { Features = ["container"] }, PlacementStrategy.Binpack),
        State = ReservationState.Active,
        NodeId = 3,
        Epoch = 2,
        Retries = 4,
    };

    private JsonObject Document<T>(T state) => JsonNode.Parse(_serializer.Serialize(state).ToString())!.AsObject();

    private T Read<T>(JsonObject document) => _serializer.Deserialize<T>(BinaryData.FromString(document.ToJsonString()));
}
