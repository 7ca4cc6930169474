; Inno Setup 6 script: per-machine installer of the crm-desktop bundle for Windows 10/11 x64.
;
; Build on Windows, from the repository root (see installer/README-install.md):
;   .venv\Scripts\python -m PyInstaller --noconfirm --clean --distpath dist --workpath build\installer\pyinstaller installer\crm-desktop.spec
;   iscc /DAppVersion=0.1.0 installer\windows\crm-desktop.iss
; -> dist\crm-desktop-0.1.0-setup.exe
;
; Unattended install by IT, with the server address preset for every user of the machine:
;   crm-desktop-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /SERVER=https://crm.example.com
; The address goes to %ProgramData%\CRM\config.ini ([server] url = ...), and the machine-wide
; variable CRM_DESKTOP_CONFIG points the app at that file (crm_desktop/config.py reads it for a
; user who has not signed in anywhere yet). Without /SERVER the wizard asks (optional: left empty,
; each user types the address at first start, or opens "CRM demo").

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "CRM"
#define AppExe "crm-desktop.exe"
; The PyInstaller one-folder bundle, relative to this script.
#define BundleDir "..\..\dist\crm-desktop"

[Setup]
; Never change AppId: it is how upgrades and the uninstaller find the installed app.
AppId={{3625C02F-AF85-4335-B5A5-3C5AD4206B3D}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=CRM
VersionInfoVersion={#AppVersion}
; Per machine: Program Files, all users' Start menu, HKLM uninstall entry.
PrivilegesRequired=admin
DefaultDirName={autopf}\CRM
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=crm-desktop-{#AppVersion}-setup
SetupIconFile=crm-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; An upgrade replaces files the running app holds open: ask to close it, restart it afterwards.
CloseApplications=yes
RestartApplications=yes
; CRM_DESKTOP_CONFIG (below) is new to running Explorer sessions: tell them.
ChangesEnvironment=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade starts from an empty folder: files the previous bundle had and this one has not
; (a dropped library, an old migration) must not linger next to the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[INI]
; Only when an address was given: an empty [server] url would hide a per-user choice.
Filename: "{commonappdata}\CRM\config.ini"; Section: "server"; Key: "url"; String: "{code:ServerUrl}"; Check: HasServerUrl; Flags: uninsdeleteentry uninsdeletesectionifempty

[Registry]
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: string; ValueName: "CRM_DESKTOP_CONFIG"; ValueData: "{commonappdata}\CRM\config.ini"; Check: HasServerUrl; Flags: uninsdeletevalue

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{autoprograms}\{#AppName} demo"; Filename: "{app}\{#AppExe}"; Parameters: "--demo"; WorkingDir: "{app}"; Comment: "Try the CRM with sample data on this computer"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent runasoriginaluser

[UninstallDelete]
; The bundle never writes into {app}, but remove the folder even if something did.
Type: filesandordirs; Name: "{app}"
Type: dirifempty; Name: "{commonappdata}\CRM"

[Code]
var
  ServerPage: TInputQueryWizardPage;

procedure InitializeWizard;
begin
  ServerPage := CreateInputQueryPage(wpSelectTasks,
    'CRM server', 'Which CRM server should this computer use?',
    'Enter the address your IT department gave you, for example https://crm.example.com. ' +
    'It is saved for every user of this computer. Leave it empty to let each user enter it ' +
    '(or try the demo) when the app starts for the first time.');
  ServerPage.Add('Server address:', False);
  // /SERVER=... on the command line (silent installs), else what a previous install saved.
  ServerPage.Values[0] := ExpandConstant('{param:SERVER|}');
  if ServerPage.Values[0] = '' then
    ServerPage.Values[0] := GetIniString('server', 'url', '', ExpandConstant('{commonappdata}\CRM\config.ini'));
end;

function ServerUrl(Param: String): String;
begin
  Result := Trim(ServerPage.Values[0]);
end;

function HasServerUrl: Boolean;
begin
  Result := ServerUrl('') <> '';
end;

function NextButtonClick(CurPageID: Integer): Boolean;
var
  Url: String;
begin
  Result := True;
  if CurPageID = ServerPage.ID then
  begin
    Url := Lowercase(ServerUrl(''));
    if (Url <> '') and (Pos('http://', Url) <> 1) and (Pos('https://', Url) <> 1) then
    begin
      MsgBox('The address starts with https:// (or http:// for a server on your own network).', mbError, MB_OK);
      Result := False;
    end;
  end;
end;
