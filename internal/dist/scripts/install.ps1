<#
.SYNOPSIS
Install Go with the gostrap of this tree (a gostrap bundle or fleet mirror).

.DESCRIPTION
Picks gostrap\windows-<arch>\gostrap.exe for this machine, checks its SHA-256 against
gostrap\SHA256SUMS (Get-FileHash), and runs
    gostrap.exe install --offline --bundle TREE ARGS...                       (tree on disk)
    gostrap.exe install --official URL/ --mirror URL/ --goproxy URL ARGS...   (tree over http)
then puts Go on PATH for this PowerShell session (with -Persist, for the user too; under
GitHub Actions, in GITHUB_PATH). gostrap verifies Go itself (checksum database, official
sha256); the check of gostrap against SHA256SUMS finds a damaged copy, and is only as
trustworthy as the tree it came from.

Windows PowerShell 5.1 and PowerShell 7. Arguments this script does not know (a version,
--dir DIR, ...) go to 'gostrap install'. Exit status: gostrap's own, 1 for an error of this
script, 4 for a checksum mismatch.

Options (PowerShell style or with two dashes):
    -Tree DIR|URL   the tree (default: $env:GOSTRAP_TREE, else this script's directory; a
                    script piped from a web server cannot know where it came from: name it)
    -NoVerify       run gostrap without checking its SHA-256
    -Persist        also put Go on the user's PATH for new sessions
    $env:GOSTRAP_PLATFORM = 'windows/arm64'   use that platform's gostrap
PowerShell passes an unquoted 1.20 as the number 1.2: quote such versions ('1.20').

.EXAMPLE
powershell -ExecutionPolicy Bypass -File E:\go-bundle\install.ps1 1.25

.EXAMPLE
& E:\go-bundle\install.ps1 1.25 -Persist

.EXAMPLE
$env:GOSTRAP_TREE = 'http://mirror.lan/go'; iex "& { $(irm http://mirror.lan/go/install.ps1) } 1.25"
#>
# No param() block: PowerShell would bind a bare version to the first parameter. The script's
# own options are taken out of $args here; everything else goes to 'gostrap install'.
$Tree = $env:GOSTRAP_TREE
$NoVerify = $false
$Persist = $false
$usage = ''
$gostrapArgs = @()
$numeric = @()
for ($i = 0; $i -lt $args.Count; $i++) {
    $a = $args[$i]
    if ($a -is [string] -and $a -match '^--?(tree|noverify|no-verify|persist)(?::(.+))?$') {
        $opt, $val = $Matches[1], $Matches[2]
        if ($opt -eq 'tree') {
            if ($null -ne $val) { $Tree = $val }
            elseif ($i + 1 -lt $args.Count) { $i++; $Tree = [string]$args[$i] }
            else { $usage = '-Tree needs a directory or URL' }
        } elseif ($opt -eq 'persist') {
            $Persist = $true
        } else {
            $NoVerify = $true
        }
        continue
    }
    if ($a -isnot [string]) {
        # PowerShell passes 1.20 as the number 1.2: say so.
        $a = [string]::Format([Globalization.CultureInfo]::InvariantCulture, '{0}', $a)
        $numeric += $a
    }
    $gostrapArgs += $a
}

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue' # Invoke-WebRequest is many times slower with it
$script:status = 1

function Say([string]$msg) { [Console]::Error.WriteLine("install.ps1: $msg") }

# Fail stops the script with a one-line error and an exit status.
function Fail([string]$msg, [int]$code = 1) {
    $e = [Exception]::new($msg)
    $e.Data['install.ps1'] = $code
    throw $e
}

function Install-Go {
    if ($usage) { Fail $usage 2 }
    # The tree.
    $base = ''
    $dir = ''
    if (-not $Tree) {
        if ($PSScriptRoot) {
            $Tree = $PSScriptRoot
        } else {
            Fail "which tree? a piped install.ps1 cannot tell where it came from: set `$env:GOSTRAP_TREE = 'URL' first, or pass -Tree URL"
        }
    }
    if ($Tree -match '^https?://') {
        $base = $Tree.TrimEnd('/')
    } else {
        if ($Tree -match '^file://') { $Tree = ([Uri]$Tree).LocalPath }
        if (-not (Test-Path -LiteralPath $Tree -PathType Container)) { Fail "${Tree}: no such directory" }
        $dir = (Resolve-Path -LiteralPath $Tree).ProviderPath
        if (-not $NoVerify -and -not (Test-Path -LiteralPath (Join-Path $dir 'gostrap\SHA256SUMS'))) {
            Fail "$dir\gostrap\SHA256SUMS: not found: this is not a gostrap tree carrying gostrap"
        }
    }
    $where = if ($base) { $base } else { $dir }

    # The platform.
    $arch = $null
    if ($env:GOSTRAP_PLATFORM) {
        $plat = $env:GOSTRAP_PLATFORM -replace '/', '-'
    } else {
        try {
            $arch = [string][System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture
        } catch {
            $arch = $null
        }
        if (-not $arch) {
            $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
        }
        switch -regex ($arch) {
            '^(X64|AMD64)$' { $plat = 'windows-amd64' }
            '^ARM64$' { $plat = 'windows-arm64' }
            default { $plat = "windows-$($arch.ToLowerInvariant())" }
        }
    }
    $name = "$plat/gostrap.exe"

    $tmp = Join-Path ([IO.Path]::GetTempPath()) ('gostrap-install-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $tmp | Out-Null
    try {
        if ($base) {
            # Windows PowerShell 5.1 offers TLS 1.2 only when asked.
            [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        }
        function Get-TreeFile([string]$rel, [string]$to) {
            try {
                if ($base) {
                    Invoke-WebRequest -UseBasicParsing -Uri "$base/$rel" -OutFile $to
                } else {
                    Copy-Item -LiteralPath (Join-Path $dir ($rel -replace '/', '\')) -Destination $to
                }
            } catch {
                Fail "$where/${rel}: cannot read it ($($_.Exception.Message))"
            }
        }

        $want = ''
        $have = @()
        $sums = Join-Path $tmp 'SHA256SUMS'
        $gotSums = $true
        try { Get-TreeFile 'gostrap/SHA256SUMS' $sums } catch { if (-not $NoVerify) { throw } else { $gotSums = $false } }
        if ($gotSums) {
            foreach ($line in Get-Content -LiteralPath $sums) {
                if ($line -match '^([0-9A-Fa-f]{64}) [ *]?(.+?)\s*$') {
                    if ($Matches[2] -eq $name) { $want = $Matches[1].ToLowerInvariant() }
                    if ($Matches[2] -match '^(.+)/gostrap(\.exe)?$') { $have += $Matches[1] }
                }
            }
            if (-not $want) {
                $list = if ($have) { $have -join ' ' } else { 'nothing' }
                Fail "unsupported platform: $($plat -replace '-', '/'): this tree has gostrap for: $list"
            }
        }
        $bin = Join-Path $tmp 'gostrap.exe'
        Get-TreeFile "gostrap/$name" $bin
        if ($NoVerify) {
            Say 'warning: -NoVerify: gostrap will run without its SHA-256 being checked'
        } else {
            $got = (Get-FileHash -Algorithm SHA256 -LiteralPath $bin).Hash.ToLowerInvariant()
            if ($got -ne $want) {
                Fail "checksum mismatch: gostrap/$name has SHA-256 $got, gostrap/SHA256SUMS says ${want}: the tree is damaged or was tampered with; nothing was run or installed" 4
            }
        }

        $source = if ($base) {
            @('--official', "$base/", '--mirror', "$base/", '--goproxy', $base)
        } else {
            @('--offline', '--bundle', $dir)
        }
        foreach ($n in $numeric) {
            Say "warning: PowerShell passed $n as a number, which drops trailing zeros: quote a version such as '1.20'"
        }
        if ($env:GOSTRAP_INSTALL_DRY_RUN) {
            Write-Output ((@("gostrap/$name", 'install') + $source + $gostrapArgs) -join ' ')
            $script:status = 0
            return
        }
        $json = [bool]($gostrapArgs | Where-Object { $_ -in @('--json', '-json', '--json=true', '-json=true') })
        # gostrap's stderr is its progress and errors: let it through untouched (with 'Stop',
        # PowerShell 5.1 turns a redirected native stderr line into a terminating error).
        $ErrorActionPreference = 'Continue'
        $out = & $bin install --json @source @gostrapArgs
        $code = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        if ($code -ne 0) {
            $script:status = $code
            return
        }
        $text = $out -join "`n"
        if ($json) { Write-Output $text }
        $report = $text | ConvertFrom-Json
        if (-not $report.goroot) { Fail "gostrap installed Go but its report names no GOROOT: run 'gostrap env' to find it" }
        $gobin = Join-Path $report.goroot 'bin'
        $versioned = $gobin
        # The toolchain made current: its bin through <dir>\current, when that junction is
        # there, so that a later 'gostrap use' takes effect on PATH without running this again.
        if ($report.current) {
            $link = Join-Path (Split-Path -Parent $report.goroot) 'current'
            if (Test-Path -LiteralPath (Join-Path $link 'bin\go.exe') -PathType Leaf) { $gobin = Join-Path $link 'bin' }
        }
        Say "Go $($report.version) is in $($report.goroot)"

        if ($env:GITHUB_PATH) {
            [IO.File]::AppendAllText($env:GITHUB_PATH, "$gobin`n")
            Say "added $gobin to GITHUB_PATH for the next steps"
        }
        $env:PATH = "$gobin;$env:PATH"
        if ($Persist) {
            # The registry value itself, unexpanded (%USERPROFILE%\...), kept REG_EXPAND_SZ:
            # [Environment]::SetEnvironmentVariable would store it expanded, as REG_SZ.
            $key = [Microsoft.Win32.Registry]::CurrentUser.OpenSubKey('Environment', $true)
            try {
                $user = [string]$key.GetValue('Path', '', [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                # This toolchain's entries from an earlier run go, in either form.
                $ours = @($gobin.TrimEnd('\'), $versioned.TrimEnd('\'))
                $parts = @($user -split ';' | Where-Object { $_ -and $ours -notcontains $_.TrimEnd('\') })
                $key.SetValue('Path', ((@($gobin) + $parts) -join ';'), [Microsoft.Win32.RegistryValueKind]::ExpandString)
            } finally {
                $key.Close()
            }
            # Setting a variable through .NET broadcasts WM_SETTINGCHANGE, so that new
            # sessions started from Explorer see the new PATH.
            [Environment]::SetEnvironmentVariable('GOSTRAP_INSTALL_PS1', '1', 'User')
            [Environment]::SetEnvironmentVariable('GOSTRAP_INSTALL_PS1', $null, 'User')
            Say "added $gobin to your user PATH (new sessions)"
        } elseif (-not $env:GITHUB_PATH) {
            Say "added $gobin to PATH for this PowerShell session (not the caller's, when run with powershell -File); -Persist adds it for new sessions too"
        }
        $script:status = 0
    } finally {
        Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
    }
}

try {
    Install-Go
} catch {
    [Console]::Error.WriteLine("install.ps1: error: $($_.Exception.Message)")
    $script:status = if ($_.Exception.Data.Contains('install.ps1')) { $_.Exception.Data['install.ps1'] } else { 1 }
}
if ($PSCommandPath) {
    exit $script:status
}
# Run from a script block (iex): 'exit' would close the caller's PowerShell.
$global:LASTEXITCODE = $script:status
