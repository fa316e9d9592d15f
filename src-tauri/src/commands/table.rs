// The window's commands, each declared once: its name, the app state it
// uses (in brackets), its IPC arguments, what it returns and the one call
// it makes. Everything else is derived from this list:
// - the `#[tauri::command]` functions and the handler (`commands::handler`);
// - `commands::COMMANDS`, from which build.rs makes an `allow-<command>`
//   permission for each and writes capabilities/default.json;
// - the TypeScript client ui/src/lib/services/commands.gen.ts (the
//   `Commands` interface and `commandClient`), the UI's only way in.
// A test (`commands::table_tests`) checks that they agree.
//
// Included (`include!`) by commands.rs and by build.rs, which reads only
// the names: keep it a single `commands! { ... }` invocation.

commands! {
    /// Basic facts for the start screen.
    app_info[config: Cfg]() -> ipc::AppInfo => app_info_for(&config);
    /// The kiosk's clock against its ledger (writes refused when behind).
    kiosk_health[st: St]() -> ipc::KioskHealth => service::kiosk_health(&st);
    list_people[st: St]() -> Vec<ipc::Person> => service::list_people(&st);
    policy_view[st: St]() -> ipc::PolicyView => service::policy_view(&st);
    demo_credentials[st: St]() -> Vec<ipc::DemoCredential> => service::demo_credentials(&st);
    start_stepup[st: St](request: ipc::StartStepupRequest) -> ipc::StepupView
        => service::start_stepup(&st, request);
    stepup_status[st: St](session_id: String) -> ipc::StepupView
        => service::stepup_status(&st, &session_id);
    identify[st: St](session_id: String, operator: String) -> ipc::StepupView
        => service::identify(&st, &session_id, &operator);
    /// The act of intent: one capture, matched against the operator's template.
    verify_me[st: St, cap: Cap](session_id: String) -> ipc::StepupView
        => service::verify_me(&st, &cap, &session_id);
    cancel_stepup[st: St](session_id: String, reason: String) -> ipc::StepupView
        => service::cancel_stepup(&st, &session_id, &reason);
    supervisor_login[st: St](login: ipc::SupervisorLogin) -> ipc::StepupView
        => service::supervisor_login(&st, login);
    grant_override[st: St](grant: ipc::GrantInput) -> ipc::OverrideView
        => service::grant_override(&st, grant);
    list_overrides[st: St](query: ipc::OverrideQuery) -> Vec<ipc::OverrideView>
        => service::list_overrides(&st, query);
    revoke_override[st: St](revoke: ipc::RevokeInput) -> ipc::OverrideView
        => service::revoke_override(&st, revoke);
    review_override[st: St](review: ipc::ReviewSubmission) -> ipc::OverrideView
        => service::review_override(&st, review);
    query_events[st: St](query: ipc::EventQuery) -> ipc::EventPage
        => service::query_events(&st, query);
    verify_ledger[st: St]() -> ipc::VerifyStatus => service::verify_ledger(&st);
    export_events[st: St](request: ipc::ExportRequest) -> ipc::ExportResult
        => service::export_events(&st, request);
    capture_status[cap: Cap]() -> ipc::CaptureStatus => cap.status();
    /// Demo data dirs only: which replay scene the camera shows.
    set_replay_scene[cap: Cap](scene: String) -> ipc::CaptureStatus => cap.set_scene(&scene);
    preview_frame[cap: Cap]() -> ipc::PreviewFrame => cap.preview();
    enroll_face[st: St, cap: Cap](request: ipc::EnrollRequest) -> ipc::EnrollResult
        => service::enroll_face(&st, &cap, request);
    open_requests[st: St]() -> Vec<ipc::OpenRequestView> => service::open_requests(&st);
    take_request[st: St](request_id: String) -> ipc::StepupView
        => service::take_request(&st, &request_id);
    /// Two-factor sign-in to the console as reviewer or admin (refused on a kiosk).
    console_sign_in[st: St](login: ipc::ConsoleSignIn) -> ipc::ConsoleSession
        => service::console_sign_in(&st, login);
    console_session[st: St]() -> Option<ipc::ConsoleSession> => service::console_session(&st);
    console_sign_out[st: St]() -> () => service::console_sign_out(&st);
    /// A sealed sample for the signed-in reviewer (the view is logged).
    open_sample[st: St](sha256: String, event_seq: Option<u64>) -> ipc::SampleImage
        => service::open_sample(&st, &sha256, event_seq);
    /// One of the step-up's own samples for its authenticated supervisor.
    open_session_sample[st: St](session_id: String, sha256: String) -> ipc::SampleImage
        => service::open_session_sample(&st, &session_id, &sha256);
    finger_status[st: St, fp: Fp]() -> ipc::FingerStatus => service::finger_status(&st, &fp);
    set_finger_scene[st: St, fp: Fp](scene: String) -> ipc::FingerStatus
        => service::set_finger_scene(&st, &fp, &scene);
    finger_progress[fp: Fp]() -> ipc::FingerProgress => fp.progress();
    verify_finger[st: St, fp: Fp](session_id: String) -> ipc::StepupView
        => service::verify_finger(&st, &fp, &session_id);
    enroll_finger[st: St, fp: Fp](request: ipc::FingerEnrollRequest) -> ipc::FingerEnrollResult
        => service::enroll_finger(&st, &fp, request);
    /// Evidence sync's state (Admin).
    sync_status[st: St, w: SyncW]() -> ipc::SyncStatusView => service::sync_status(&st, &w);
    /// The last read of the bucket (nothing is read).
    fleet_overview[st: St, f: Fleet]() -> ipc::FleetOverview => {
        st.require(ConsoleRole::Reviewer, "fleet_overview")?;
        service::fleet_overview(&f)
    };
    /// Reads and verifies the bucket now.
    fleet_open[st: St, f: Fleet]() -> ipc::FleetOverview => {
        st.require(ConsoleRole::Reviewer, "fleet_open")?;
        service::fleet_open(&f)
    };
    fleet_events[st: St, f: Fleet](query: ipc::FleetQuery) -> ipc::FleetEventPage => {
        st.require(ConsoleRole::Reviewer, "fleet_events")?;
        service::fleet_events(&f, query)
    };
    fleet_export[st: St, f: Fleet](request: ipc::FleetExportRequest) -> ipc::ExportResult => {
        st.require(ConsoleRole::Reviewer, "fleet_export")?;
        service::fleet_export(&f, request)
    };
    // The admin's acts (service/admin.rs, service/registry.rs): each checks
    // the admin console session, and each registry act the admin's two factors.
    add_person[st: St](request: ipc::AddPersonRequest) -> ipc::Person
        => service::add_person(&st, request);
    set_roles[st: St](request: ipc::SetRolesRequest) -> ipc::Person
        => service::set_roles(&st, request);
    unlock_person[st: St](request: ipc::UnlockRequest) -> ipc::Person
        => service::unlock_person(&st, request);
    /// The TOTP secret comes back once, from here.
    issue_credentials[st: St](request: ipc::IssueCredentialsRequest) -> ipc::IssuedCredentials
        => service::issue_credentials(&st, request);
    policy_source[st: St]() -> ipc::PolicySource => service::policy_source(&st);
    policy_diff[st: St](proposed: String) -> ipc::PolicyDiff
        => service::policy_diff(&st, proposed);
    apply_policy[st: St](request: ipc::ApplyPolicyRequest) -> ipc::PolicySource
        => service::apply_policy(&st, request);
    list_clients[st: St]() -> Vec<ipc::ClientInfo> => service::list_clients(&st);
    /// Registers a relying application; answers with the kiosk pin it needs.
    add_client[st: St](request: ipc::AddClientRequest) -> ipc::ClientAdded
        => service::add_client(&st, request);
    list_principals[st: St]() -> Vec<ipc::PrincipalInfo> => service::list_principals(&st);
    add_principal[st: St](request: ipc::AddPrincipalRequest) -> ipc::PrincipalInfo
        => service::add_principal(&st, request);
}
