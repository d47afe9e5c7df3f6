using System.Collections.Immutable;
using System.Text.Json;

namespace Grid.Storage.Tests;

public sealed class SerializerTests
{
    private readonly GridJsonGrainStorageSerializer _serializer = new();

    internal static ProbeState SampleState() => new()
    {
        Name = "farm-7",
        Colour = ProbeColour.DeepBlue,
        Items =
        [
            new ProbeItem("cru", 4, ["ssd", "gold"]),
            new ProbeItem("mru", 8, []),
        ],
        Counters = new Dictionary<string, long> { ["Reservations"] = 3, ["ipv4"] = 1L << 40 },
    };

    internal static void AssertSameState(ProbeState expected, ProbeState actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Colour, actual.Colour);
        Assert.Equal(expected.Items.Length, actual.Items.Length);
        foreach (var (want, got) in expected.Items.Zip(actual.Items))
        {
            Assert.Equal(want.Sku, got.Sku);
            Assert.Equal(want.Quantity, got.Quantity);
            // ImmutableArray equality compares the underlying array reference; compare the elements.
            Assert.Equal(want.Tags.ToArray(), got.Tags.ToArray());
        }

        Assert.Equal(expected.Counters.OrderBy(c => c.Key), actual.Counters.OrderBy(c => c.Key));
    }

    [Fact]
    public void StateSurvivesARoundTripThroughJson()
    {
        var state = SampleState();

        var restored = _serializer.Deserialize<ProbeState>(_serializer.Serialize(state));

        AssertSameState(state, restored);
    }

    [Fact]
    public void PayloadIsCamelCaseJsonWithEnumNamesAndNoClrTypeNames()
    {
        var json = _serializer.Serialize(SampleState()).ToString();

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("farm-7", root.GetProperty("name").GetString());
        Assert.Equal("deepBlue", root.GetProperty("colour").GetString());
        Assert.Equal("gold", root.GetProperty("items")[0].GetProperty("tags")[1].GetString());
        // Dictionary keys are data, not names: kept as written.
        Assert.Equal(3, root.GetProperty("counters").GetProperty("Reservations").GetInt64());
        Assert.DoesNotContain("$type", json, StringComparison.Ordinal);
        Assert.DoesNotContain("Grid.Storage", json, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(ProbeState), json, StringComparison.Ordinal);
    }

    [Fact]
    public void StoredJsonReadsIntoARenamedTypeWithExtraAndMissingFields()
    {
        // What a later build sees after the state type was renamed and gained a field.
        var json = _serializer.Serialize(SampleState());

        var renamed = _serializer.Deserialize<RenamedState>(json);

        Assert.Equal("farm-7", renamed.Name);
        Assert.Equal(ProbeColour.DeepBlue, renamed.Colour);
        Assert.Equal("none", renamed.AddedLater);
    }

    private sealed record RenamedState
    {
        public string Name { get; init; } = "";

        public ProbeColour Colour { get; init; }

        public string AddedLater { get; init; } = "none";
    }
}
