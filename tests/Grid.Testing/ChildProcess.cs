using System.Diagnostics;
using System.Text;

namespace Grid.Testing;

/// <summary>
/// A process started by a test: its stdout and stderr are captured (in memory and, if asked, to a
/// file) and it is always killed, with its whole process tree, when disposed.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private readonly StreamWriter? _logFile;

    private ChildProcess(Process process, StreamWriter? logFile)
    {
        _process = process;
        _logFile = logFile;
    }

    /// <summary>The operating-system id of the process.</summary>
    public int Pid { get; private set; }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code; only meaningful once <see cref="HasExited"/> is true.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything written to stdout and stderr so far, interleaved as received.</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> with <paramref name="arguments"/> (passed one by one, no shell
    /// quoting), extra <paramref name="environment"/> variables (a null value removes one) and an
    /// optional <paramref name="logPath"/> that receives the output as well.
    /// </summary>
    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        string? logPath = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        ArgumentNullException.ThrowIfNull(arguments);

        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var logFile = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true };
        var child = new ChildProcess(new Process { StartInfo = info, EnableRaisingEvents = true }, logFile);
        child._process.OutputDataReceived += (_, e) => child.Append(e.Data);
        child._process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        if (!child._process.Start())
        {
            throw new InvalidOperationException($"Could not start {fileName}.");
        }

        child.Pid = child._process.Id;
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// <paramref name="fileName"/> and <paramref name="arguments"/> started through <c>env --default-signal=HUP</c>: with
    /// SIGHUP's default disposition whatever the test run's is. A process started with SIGHUP ignored (a run under
    /// <c>nohup</c>, or by a service manager that ignores it) passes that on to its children, and .NET keeps an ignored
    /// signal ignored: an agent's hand-over handler (<c>grid agent</c> on SIGHUP) would never run. For the processes a
    /// test sends SIGHUP to.
    /// </summary>
    public static (string FileName, string[] Arguments) WithDefaultHangup(string fileName, IEnumerable<string> arguments) =>
        ("env", ["--default-signal=HUP", fileName, .. arguments]);

    /// <summary>
    /// Runs a short command to its end and returns its exit code and output; kills it and throws
    /// <see cref="TimeoutException"/> when it runs longer than <paramref name="timeout"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        await using var child = Start(fileName, arguments, environment);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await child.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} ran longer than {timeout}: {child.Output}");
        }

        return (child.ExitCode, child.Output);
    }

    /// <summary>Waits for the process to exit and for its output to be fully read.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _process.WaitForExitAsync(cancellationToken);

    /// <summary>Kills the process and everything it started, by PID; does nothing once it has exited.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
    }

    /// <summary>Kills the process tree (if still running), waits for it and releases the handles.</summary>
    public async ValueTask DisposeAsync()
    {
        Kill();
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                // A process stuck in uninterruptible sleep; nothing more a test can do.
            }
        }

        _process.Dispose();
        if (_logFile is not null)
        {
            await _logFile.DisposeAsync();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            _output.AppendLine(line);
            _logFile?.WriteLine(line);
        }
    }
}
