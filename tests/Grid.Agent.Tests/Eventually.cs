namespace Grid.Agent.Tests;

/// <summary>Polls a condition until it holds or a deadline passes: tests wait for behaviour, never for time.</summary>
internal static class Eventually
{
    public static async Task HoldsAsync(Func<bool> condition, string what, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {seconds}s waiting until {what}.");
            }

            await Task.Delay(25);
        }
    }
}
