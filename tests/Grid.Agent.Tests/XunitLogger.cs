using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Grid.Agent.Tests;

/// <summary>Sends the agent's log to the test output, so a failing test shows what the agent did.</summary>
internal sealed class XunitLogger<T>(ITestOutputHelper output) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}{(exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})")}");
        }
        catch (InvalidOperationException)
        {
            // The test already ended; its output is closed.
        }
    }
}
