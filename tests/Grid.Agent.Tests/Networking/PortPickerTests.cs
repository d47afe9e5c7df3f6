using Grid.Agent.Runtimes.Networking;
using Microsoft.Extensions.Time.Testing;

namespace Grid.Agent.Tests.Networking;

/// <summary>The host port picker: what it never hands out, its quarantine, and running dry.</summary>
public sealed class PortPickerTests
{
    private static readonly TimeSpan Quarantine = TimeSpan.FromSeconds(60);

    [Fact]
    public void NeverHandsOutAPortHeldInQuarantineOrUnusable()
    {
        var time = new FakeTimeProvider();
        var picker = new PortPicker(100, 119, Quarantine, time);
        var taken = new HashSet<int> { 103, 111 };
        var handedOut = new HashSet<int>();
        var random = new Random(7);
        var released = new Dictionary<int, DateTimeOffset>();

        for (var step = 0; step < 2000; step++)
        {
            if (random.Next(3) > 0 || handedOut.Count == 0)
            {
                int port;
                try
                {
                    port = (int)picker.Take(p => taken.Contains(p) ? null : (object)p);
                }
                catch (NoFreePortException)
                {
                    // Allowed only when every port is held, taken or quarantined.
                    Assert.All(Enumerable.Range(100, 20), p => Assert.True(
                        handedOut.Contains(p) || taken.Contains(p) || (released.TryGetValue(p, out var at) && time.GetUtcNow() - at < Quarantine)));
                    time.Advance(TimeSpan.FromSeconds(7));
                    continue;
                }

                Assert.InRange(port, 100, 119);
                Assert.DoesNotContain(port, taken);
                Assert.True(handedOut.Add(port), $"port {port} handed out twice");
                Assert.False(released.TryGetValue(port, out var releasedAt) && time.GetUtcNow() - releasedAt < Quarantine, $"port {port} handed out in quarantine");
            }
            else
            {
                var port = handedOut.ElementAt(random.Next(handedOut.Count));
                handedOut.Remove(port);
                picker.Release(port);
                released[port] = time.GetUtcNow();
            }

            time.Advance(TimeSpan.FromSeconds(random.Next(5)));
        }
    }

    [Fact]
    public void ARangeRunningDrySaysWhyAndAReleasedPortComesBackAfterItsQuarantine()
    {
        var time = new FakeTimeProvider();
        var picker = new PortPicker(5000, 5003, Quarantine, time);
        var first = picker.Take(p => (object)p);
        picker.Take(p => p == 5003 ? null : (object)p);
        picker.Take(p => p == 5003 ? null : (object)p);
        picker.Release((int)first);

        var dry = Assert.Throws<NoFreePortException>(() => picker.Take(p => p == 5003 ? null : (object)p));

        Assert.Equal("no free host port in 5000-5003: 2 published, 1 released less than 60 s ago, 1 taken by other programs", dry.Message);
        time.Advance(Quarantine);
        Assert.Equal(first, picker.Take(p => p == 5003 ? null : (object)p));
    }

    [Fact]
    public void AHeldPortIsNotHandedOutUntilReleased()
    {
        var picker = new PortPicker(1, 2, Quarantine, new FakeTimeProvider());
        Assert.True(picker.Hold(1));
        Assert.False(picker.Hold(1));

        Assert.Equal(2, picker.Take(p => (object)p));
        Assert.Throws<NoFreePortException>(() => picker.Take(p => (object)p));
    }
}
