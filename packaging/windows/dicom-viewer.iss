; Inno Setup 6 script: installs the PyInstaller one-folder app
; (dist\dicom-viewer\, built by packaging\pyinstaller\dicom-viewer.spec on
; Windows) and registers .dcm and .dicom: the "DICOM image" type, "Open with"
; and the app's SupportedTypes.
;
;   pyinstaller --noconfirm packaging\pyinstaller\dicom-viewer.spec
;   iscc packaging\windows\dicom-viewer.iss      (output: dist\installer\)
;
; Per-user by default (no administrator rights; HKA = HKCU\Software\Classes);
; the dialog offers an all-users install (HKA = HKLM\Software\Classes).

#define AppName "DICOM Viewer"
; Override with: iscc /DAppVersion=X.Y.Z ... (keep it equal to viewer/__init__.py)
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppExe "dicom-viewer.exe"
#define ProgId "DicomViewer.dcm"

[Setup]
AppId={{6F1C2B7E-4D3A-4C8B-9E51-0A7D2F3B9C64}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=dicom-viewer
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
; Tells Explorer (SHChangeNotify) that associations changed, at install and uninstall.
ChangesAssociations=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SourceDir=..\..
OutputDir=dist\installer
OutputBaseFilename=dicom-viewer-{#AppVersion}-setup
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "dist\dicom-viewer\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The file type (ProgID): name, icon, and how to open it. "%1" quoted: paths have spaces.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "DICOM image"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; .dcm and .dicom: offered in "Open with" (OpenWithProgids, removed at
; uninstall). The extensions' default value is set only where no other program
; owns one (createvalueifdoesntexist) and deliberately left at uninstall:
; uninsdeletevalue would also delete another program's value, and a default
; naming a removed ProgID only makes Windows ask. On Windows 10+ the user, not
; an installer, chooses the default app.
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.dcm"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: createvalueifdoesntexist
Root: HKA; Subkey: "Software\Classes\.dcm"; ValueType: string; ValueName: "Content Type"; ValueData: "application/dicom"; Flags: createvalueifdoesntexist
Root: HKA; Subkey: "Software\Classes\.dicom\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.dicom"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: createvalueifdoesntexist
; The application itself: its name in "Open with" and the types it opens.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dicom"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
