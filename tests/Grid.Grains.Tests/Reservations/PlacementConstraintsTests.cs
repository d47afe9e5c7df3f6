using System.Collections.Immutable;

namespace Grid.Grains.Tests.Reservations;

/// <summary>
/// Constraints compare by value, farm lists included: an idempotent retry is recognised as the same request only
/// when every constraint matches, whichever array instance deserialization produced.
/// </summary>
public sealed class PlacementConstraintsTests
{
    private static readonly PlacementConstraints Full = new([3, 5], "BE", true, 7, "web", 1_000);

    [Fact]
    public void EqualContentIsEqualWhateverTheArrayInstance()
    {
        var copy = Full with { FarmIds = ImmutableArray.Create(3L, 5L) };

        Assert.Equal(Full, copy);
        Assert.Equal(Full.GetHashCode(), copy.GetHashCode());
        Assert.Equal(new ReservationRequest(1, Capacity.Zero, Full, PlacementStrategy.Binpack),
            new ReservationRequest(1, Capacity.Zero, copy, PlacementStrategy.Binpack));
    }

    public static TheoryData<string, PlacementConstraints> OneDifference() => new()
    {
        { "farm ids", Full with { FarmIds = [3] } },
        { "farm order", Full with { FarmIds = [5, 3] } },
        { "country", Full with { Country = "NL" } },
        { "certified", Full with { Certified = null } },
        { "node", Full with { NodeId = 8 } },
        { "anti-affinity group", Full with { AntiAffinityGroup = "db" } },
        { "price cap", Full with { MaxPricePerHour = 999 } },
        { "no price cap", Full with { MaxPricePerHour = null } },
    };

    [Theory]
    [MemberData(nameof(OneDifference))]
    public void AnyDifferenceMakesThemDifferent(string what, PlacementConstraints other)
    {
        Assert.True(Full != other, what);
        Assert.NotEqual(Full, other);
    }

    [Fact]
    public void DefaultAndEmptyFarmListsAreTheSame() =>
        Assert.Equal(PlacementConstraints.None, PlacementConstraints.None with { FarmIds = default });
}
